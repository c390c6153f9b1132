import fake_pool

print(fake_pool.start())

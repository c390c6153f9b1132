# runner fuzz: seed 424242, program 776
# behaviours: mutate.c_module_state
import socket


socket.setdefaulttimeout(3.5)
print("socket timeout", socket.getdefaulttimeout())

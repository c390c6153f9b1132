# runner fuzz: seed 424242, program 191
# behaviours: 


pass

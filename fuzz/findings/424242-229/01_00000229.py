# runner fuzz: seed 424242, program 229
# behaviours: 


pass

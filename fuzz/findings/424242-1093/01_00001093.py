# runner fuzz: seed 424242, program 1093
# behaviours: 


pass

# runner fuzz: seed 424242, program 1137
# behaviours: 


pass

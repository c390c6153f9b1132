# runner fuzz: seed 424242, program 1880
# behaviours: mutate.c_module_state
import faulthandler


faulthandler.enable()
print("faulthandler", faulthandler.is_enabled())

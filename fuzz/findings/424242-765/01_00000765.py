# runner fuzz: seed 424242, program 765
# behaviours: check.c_module_state
import decimal
import faulthandler
import socket
import tracemalloc


print("c modules", decimal.getcontext().prec, faulthandler.is_enabled(), tracemalloc.is_tracing(), socket.getdefaulttimeout())

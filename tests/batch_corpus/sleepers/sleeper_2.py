# Announces that it runs, then sleeps until the runner kills it. The line "<pid> <parent pid>" goes to
# $BATCH_TEST_DIR/<name>.pid (written whole, then renamed), so that the test can wait for both
# processes to die, and then to the FIFO $BATCH_TEST_DIR/started: the event the test waits on before it
# sends Ctrl-C. One short write to a FIFO is atomic, so announcements never interleave.
import os
import time

state = os.environ["BATCH_TEST_DIR"]
line = f"{os.getpid()} {os.getppid()}\n"
pid_file = os.path.join(state, os.path.basename(__file__) + ".pid")
with open(pid_file + ".tmp", "w") as f:
    f.write(line)
os.rename(pid_file + ".tmp", pid_file)
with open(os.path.join(state, "started"), "w") as fifo:
    fifo.write(line)
while True:
    time.sleep(3600)

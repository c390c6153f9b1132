# Mutator: changes the working directory. (The next program checks it is back.)
import os

os.chdir("/")
print(os.getcwd())

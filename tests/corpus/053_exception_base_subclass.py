# A custom BaseException subclass defined in __main__: its traceback names it without a module.
class Abort(BaseException):
    pass


raise Abort("custom base exception")

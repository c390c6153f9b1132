# raise ... from ...: both tracebacks with "The above exception was the direct cause".
class ConfigError(Exception):
    pass


def load():
    try:
        {}["missing"]
    except KeyError as e:
        raise ConfigError("config key missing") from e


load()

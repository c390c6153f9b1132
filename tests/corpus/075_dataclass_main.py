# dataclasses and typing look the class's module up in sys.modules: it must be __main__.
from __future__ import annotations

import dataclasses
import typing


@dataclasses.dataclass(frozen=True)
class Item:
    name: str
    count: int = 0
    _: dataclasses.KW_ONLY
    tags: typing.List[str] = dataclasses.field(default_factory=list)


item = Item("a", 2, tags=["x"])
print(item, Item.__module__)
print([f.name for f in dataclasses.fields(Item)], dataclasses.asdict(item))
print({k: v for k, v in typing.get_type_hints(Item).items() if k != "_"})
print(dataclasses.replace(item, count=3))

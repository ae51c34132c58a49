# id: dataclass_models
# title: Data models with dataclasses, defaults and ordering
# topic: data_structures
# tags: dataclass, field, default_factory, frozen, ordering, model
from dataclasses import asdict, dataclass, field


@dataclass(order=True, frozen=True)
class Version:
    major: int
    minor: int = 0
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> "Version":
        return cls(*(int(part) for part in text.split(".")))


@dataclass
class Package:
    name: str
    version: Version
    tags: list[str] = field(default_factory=list)  # a new list per instance, never shared


if __name__ == "__main__":
    assert Version.parse("1.10.0") > Version.parse("1.9.3")
    assert sorted([Version(2), Version(1, 5), Version(1)]) == [Version(1), Version(1, 5), Version(2)]
    a, b = Package("a", Version(1)), Package("b", Version(1))
    a.tags.append("x")
    assert b.tags == [] and asdict(a)["version"] == {"major": 1, "minor": 0, "patch": 0}

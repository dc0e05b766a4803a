"""Attribute schemas of the paper's datasets (names and orders as in the official releases)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pa100k.registry import Registry


@dataclass(frozen=True)
class AttributeSchema:
    """An ordered list of binary attributes and the groups among them that are mutually exclusive.

    ``groups`` lists groups of attributes of which at most one is positive per image (a multi-class
    attribute written one-hot, e.g. PA-100K's age or orientation); every attribute outside a group is a
    binary attribute. ``paper_count`` is how the HP-net paper counts the dataset's attributes (Table 1).
    """

    name: str
    attributes: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...] = ()
    paper_count: str = ""
    description: str = ""
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(set(self.attributes)) != len(self.attributes):
            dup = sorted({a for a in self.attributes if self.attributes.count(a) > 1})
            raise ValueError(f"schema {self.name!r}: duplicated attribute names {dup}")
        index = {a: i for i, a in enumerate(self.attributes)}
        seen: set[str] = set()
        for group in self.groups:
            for a in group:
                if a not in index:
                    raise ValueError(f"schema {self.name!r}: group member {a!r} is not an attribute")
                if a in seen:
                    raise ValueError(f"schema {self.name!r}: attribute {a!r} is in two groups")
                seen.add(a)
        object.__setattr__(self, "_index", index)

    @property
    def num_attributes(self) -> int:
        """Number of attributes (label columns)."""
        return len(self.attributes)

    def __len__(self) -> int:
        return len(self.attributes)

    def index(self, attribute: str) -> int:
        """Column of ``attribute``; raises a KeyError listing the valid names."""
        try:
            return self._index[attribute]
        except KeyError:
            raise KeyError(
                f"schema {self.name!r} has no attribute {attribute!r}; valid: {', '.join(self.attributes)}"
            ) from None

    @property
    def binary_attributes(self) -> tuple[str, ...]:
        """Attributes that are not members of a multi-class group."""
        grouped = {a for g in self.groups for a in g}
        return tuple(a for a in self.attributes if a not in grouped)

    def group_of(self, attribute: str) -> tuple[str, ...] | None:
        """The exclusive group that holds ``attribute``, or None for a binary attribute."""
        self.index(attribute)
        for g in self.groups:
            if attribute in g:
                return g
        return None

    def group_indices(self) -> list[list[int]]:
        """Column indices of each exclusive group."""
        return [[self._index[a] for a in g] for g in self.groups]

    def to_dict(self) -> dict:
        """A JSON-serialisable description."""
        return {
            "name": self.name,
            "attributes": list(self.attributes),
            "groups": [list(g) for g in self.groups],
            "paper_count": self.paper_count,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "AttributeSchema":
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=d["name"],
            attributes=tuple(d["attributes"]),
            groups=tuple(tuple(g) for g in d.get("groups", ())),
            paper_count=d.get("paper_count", ""),
            description=d.get("description", ""),
        )


SCHEMAS: Registry[AttributeSchema] = Registry("attribute schema")


def register_schema(schema: AttributeSchema) -> AttributeSchema:
    """Add ``schema`` to the registry under its name."""
    SCHEMAS.add(schema.name, schema)
    return schema


def get_schema(name: str) -> AttributeSchema:
    """Schema by name, e.g. ``get_schema("pa100k")``; unknown names list the valid ones."""
    return SCHEMAS.get(name)


def list_schemas() -> list[str]:
    """Names of the registered schemas."""
    return SCHEMAS.names()


PA100K = register_schema(
    AttributeSchema(
        name="pa100k",
        attributes=(
            "Female", "AgeOver60", "Age18-60", "AgeLess18", "Front", "Side", "Back", "Hat", "Glasses",
            "HandBag", "ShoulderBag", "Backpack", "HoldObjectsInFront", "ShortSleeve", "LongSleeve",
            "UpperStride", "UpperLogo", "UpperPlaid", "UpperSplice", "LowerStripe", "LowerPattern",
            "LongCoat", "Trousers", "Shorts", "Skirt&Dress", "boots",
        ),
        groups=(("AgeOver60", "Age18-60", "AgeLess18"), ("Front", "Side", "Back")),
        paper_count="26",
        description="PA-100K (Liu et al. 2017): 26 attributes; age and orientation are one-hot groups.",
    )
)

PETA_35_ATTRIBUTES = (
    "personalLess30", "personalLess45", "personalLess60", "personalLarger60", "carryingBackpack",
    "carryingOther", "lowerBodyCasual", "upperBodyCasual", "lowerBodyFormal", "upperBodyFormal",
    "accessoryHat", "upperBodyJacket", "lowerBodyJeans", "footwearLeatherShoes", "upperBodyLogo",
    "hairLong", "personalMale", "carryingMessengerBag", "accessoryMuffler", "accessoryNothing",
    "carryingNothing", "upperBodyPlaid", "carryingPlasticBags", "footwearSandals", "footwearShoes",
    "lowerBodyShorts", "upperBodyShortSleeve", "lowerBodyShortSkirt", "footwearSneaker",
    "upperBodyThinStripes", "accessorySunglasses", "lowerBodyTrousers", "upperBodyTshirt",
    "upperBodyOther", "upperBodyVNeck",
)

PETA = register_schema(
    AttributeSchema(
        name="peta",
        attributes=PETA_35_ATTRIBUTES,
        groups=(("personalLess30", "personalLess45", "personalLess60", "personalLarger60"),),
        paper_count="61 binary + 4 multi-class",
        description="PETA (Deng et al. 2014): the 35 attributes of the common benchmark (first 35 columns).",
    )
)

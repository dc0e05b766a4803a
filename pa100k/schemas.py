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
    def from_dict(cls, d: dict) -> AttributeSchema:
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

# PETA, all 105 label columns of ``PETA.mat`` (``peta.attribute``) in file order: the 35 benchmark
# attributes, then 44 colours (upper body, lower body, hair, footwear × 11 colours), then 26 more.
_PETA_COLOURS = ("Black", "Blue", "Brown", "Green", "Grey", "Orange", "Pink", "Purple", "Red", "White", "Yellow")
PETA_105_ATTRIBUTES = (
    PETA_35_ATTRIBUTES
    + tuple(f"{part}{c}" for part in ("upperBody", "lowerBody", "hair", "footwear") for c in _PETA_COLOURS)
    + (
        "accessoryHeadphone", "personalLess15", "carryingBabyBuggy", "hairBald", "footwearBoots",
        "lowerBodyCapri", "carryingShoppingTro", "carryingUmbrella", "personalFemale", "carryingFolder",
        "accessoryHairBand", "lowerBodyHotPants", "accessoryKerchief", "lowerBodyLongSkirt",
        "upperBodyLongSleeve", "lowerBodyPlaid", "lowerBodyThinStripes", "carryingLuggageCase",
        "upperBodyNoSleeve", "hairShort", "footwearStocking", "upperBodySuit", "carryingSuitcase",
        "lowerBodySuits", "upperBodySweater", "upperBodyThickStripes",
    )
)

PETA105 = register_schema(
    AttributeSchema(
        name="peta105",
        attributes=PETA_105_ATTRIBUTES,
        groups=(
            ("personalLess15", "personalLess30", "personalLess45", "personalLess60", "personalLarger60"),
            ("personalMale", "personalFemale"),
        ),
        paper_count="61 binary + 4 multi-class",
        description=(
            "PETA (Deng et al. 2014): all 105 label columns of PETA.mat in file order (35 benchmark "
            "attributes, 44 colours, 26 others). Colours are not declared exclusive: clothes can be multi-coloured."
        ),
    )
)

# RAP v1, all 92 columns of ``RAP_annotation.label`` named by ``RAP_annotation.attribute_eng``; the
# benchmark uses the first 51 (Li et al. 2016), then 12 viewpoint/occlusion and 29 colour columns follow.
RAP_92_ATTRIBUTES = (
    "Female", "AgeLess16", "Age17-30", "Age31-45", "BodyFat", "BodyNormal", "BodyThin", "Customer", "Clerk",
    "hs-BaldHead", "hs-LongHair", "hs-BlackHair", "hs-Hat", "hs-Glasses", "hs-Muffler",
    "ub-Shirt", "ub-Sweater", "ub-Vest", "ub-TShirt", "ub-Cotton", "ub-Jacket", "ub-SuitUp", "ub-Tight",
    "ub-ShortSleeve",
    "lb-LongTrousers", "lb-Skirt", "lb-ShortSkirt", "lb-Dress", "lb-Jeans", "lb-TightTrousers",
    "shoes-Leather", "shoes-Sport", "shoes-Boots", "shoes-Cloth", "shoes-Casual",
    "attach-Backpack", "attach-SingleShoulderBag", "attach-HandBag", "attach-Box", "attach-PlasticBag",
    "attach-PaperBag", "attach-HandTrunk", "attach-Other",
    "action-Calling", "action-Talking", "action-Gathering", "action-Holding", "action-Pusing", "action-Pulling",
    "action-CarrybyArm", "action-CarrybyHand",
    "faceFront", "faceBack", "faceLeft", "faceRight",
    "occlusionLeft", "occlusionRight", "occlusionUp", "occlusionDown", "occlusion-Environment",
    "occlusion-Attachment", "occlusion-Person", "occlusion-Other",
    "up-Black", "up-White", "up-Gray", "up-Red", "up-Green", "up-Blue", "up-Yellow", "up-Brown", "up-Purple",
    "up-Pink", "up-Orange", "up-Mixture",
    "low-Black", "low-White", "low-Gray", "low-Red", "low-Green", "low-Blue", "low-Yellow", "low-Mixture",
    "shoes-Black", "shoes-White", "shoes-Gray", "shoes-Red", "shoes-Green", "shoes-Blue", "shoes-Yellow",
    "shoes-Brown", "shoes-Mixture",
)
_RAP_GROUPS = (
    ("AgeLess16", "Age17-30", "Age31-45"),
    ("BodyFat", "BodyNormal", "BodyThin"),
    ("Customer", "Clerk"),
)

RAP = register_schema(
    AttributeSchema(
        name="rap",
        attributes=RAP_92_ATTRIBUTES[:51],
        groups=_RAP_GROUPS,
        paper_count="69 binary + 3 multi-class",
        description=(
            "RAP v1 (Li et al. 2016): the 51 benchmark attributes, columns 0-50 of RAP_annotation.label. "
            "Label 2 (uncertain) is an unknown label (mask False)."
        ),
    )
)

RAP92 = register_schema(
    AttributeSchema(
        name="rap92",
        attributes=RAP_92_ATTRIBUTES,
        groups=_RAP_GROUPS + (("faceFront", "faceBack", "faceLeft", "faceRight"),),
        paper_count="69 binary + 3 multi-class",
        description="RAP v1 (Li et al. 2016): all 92 columns of RAP_annotation.label (attribute_eng order).",
    )
)

# RAP v2, the 54 attributes listed by ``RAP_annotation.selected_attribute`` (1-based into the 152 names of
# ``RAP_annotation.attribute``), in that order. "Femal" is the release's own spelling.
RAP2_54_ATTRIBUTES = (
    "Femal", "AgeLess16", "Age17-30", "Age31-45", "Age46-60", "BodyFat", "BodyNormal", "BodyThin",
    "Customer", "Employee",
    "hs-BaldHead", "hs-LongHair", "hs-BlackHair", "hs-Hat", "hs-Glasses",
    "ub-Shirt", "ub-Sweater", "ub-Vest", "ub-TShirt", "ub-Cotton", "ub-Jacket", "ub-SuitUp", "ub-Tight",
    "ub-ShortSleeve", "ub-Others",
    "lb-LongTrousers", "lb-Skirt", "lb-ShortSkirt", "lb-Dress", "lb-Jeans", "lb-TightTrousers",
    "shoes-Leather", "shoes-Sports", "shoes-Boots", "shoes-Cloth", "shoes-Casual", "shoes-Other",
    "attachment-Backpack", "attachment-ShoulderBag", "attachment-HandBag", "attachment-Box",
    "attachment-PlasticBag", "attachment-PaperBag", "attachment-HandTrunk", "attachment-Other",
    "action-Calling", "action-Talking", "action-Gathering", "action-Holding", "action-Pushing",
    "action-Pulling", "action-CarryingByArm", "action-CarryingByHand", "action-Other",
)

RAP2 = register_schema(
    AttributeSchema(
        name="rap2",
        attributes=RAP2_54_ATTRIBUTES,
        groups=(
            ("AgeLess16", "Age17-30", "Age31-45", "Age46-60"),
            ("BodyFat", "BodyNormal", "BodyThin"),
            ("Customer", "Employee"),
        ),
        description="RAP v2 (Li et al. 2018): the 54 selected attributes (RAP_annotation.selected_attribute).",
    )
)

RAP2ZS = register_schema(
    AttributeSchema(
        name="rap2zs",
        attributes=tuple(a for a in RAP2_54_ATTRIBUTES if a != "Age46-60"),
        groups=(
            ("AgeLess16", "Age17-30", "Age31-45"),
            ("BodyFat", "BodyNormal", "BodyThin"),
            ("Customer", "Employee"),
        ),
        description=(
            "RAPzs (Jia et al. 2021): the 54 RAP v2 attributes without Age46-60, evaluated on a split with "
            "disjoint pedestrian identities."
        ),
    )
)

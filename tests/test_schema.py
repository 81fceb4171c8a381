"""The published JSON Schema agrees with the loader: bundled specs pass, broken ones fail."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from rescomp.spec.library import LIBRARY_DIR
from rescomp.spec.schema import spec_schema

VALIDATOR = jsonschema.Draft202012Validator(spec_schema())


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(spec_schema())


@pytest.mark.parametrize("path", sorted(LIBRARY_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_bundled_specs_validate(path: Path) -> None:
    assert list(VALIDATOR.iter_errors(yaml.safe_load(path.read_text()))) == []


@pytest.mark.parametrize(
    "name",
    [
        "04_unknown_top_key",
        "05_missing_layers",
        "06_unknown_op",
        "07_unknown_attr",
        "08_wrong_attr_type",
        "35_layer_without_kind",
    ],
)
def test_structural_mistakes_fail_the_schema_too(name: str) -> None:
    path = next((Path(__file__).parent / "malformed").glob(f"{name}.yaml"))
    assert list(VALIDATOR.iter_errors(yaml.safe_load(path.read_text())))

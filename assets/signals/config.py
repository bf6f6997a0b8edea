"""Thresholds of the signals catalogue, read from ``config.yaml`` (defaults) or another file."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")
ENV_CONFIG = "KNOOPPUNT_SIGNALS_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManyCompaniesConfig(_Section):
    min_establishments: int = Field(10, ge=1)


class IdenticalBusinessesConfig(_Section):
    min_establishments: int = Field(5, ge=2)
    radius_m: float = Field(100, gt=0)
    main_activity_only: bool = True
    sbi_digits: int = Field(4, ge=2, le=5)
    vulnerable_sectors: dict[str, str]
    sbi2025_to_2008: dict[str, str] = {}

    @model_validator(mode="after")
    def _codes_match_granularity(self) -> IdenticalBusinessesConfig:
        for code in [*self.vulnerable_sectors, *self.sbi2025_to_2008.values()]:
            if not (code.isdigit() and len(code) == self.sbi_digits):
                raise ValueError(f"SBI sector code {code!r} must have sbi_digits={self.sbi_digits} digits")
        for prefix in self.sbi2025_to_2008:
            if not prefix.isdigit():
                raise ValueError(f"SBI 2025 prefix {prefix!r} must be digits")
        return self


class OvercrowdingConfig(_Section):
    min_adults: int = Field(4, ge=1)
    max_m2_per_adult: float = Field(12, gt=0)


class ResidentsAtNonResidentialConfig(_Section):
    min_persons: int = Field(1, ge=1)


class ManyCompaniesAtAddressConfig(_Section):
    min_establishments: int = Field(5, ge=2)


class CompanyChurnConfig(_Section):
    min_ended: int = Field(4, ge=1)
    min_short_lived: int = Field(3, ge=1)
    window_months: int = Field(24, ge=1)


class AddressNotInBagConfig(_Section):
    withdrawn_statuses: list[str]


FAMILY_RELATIONS = ("ouder", "kind", "partner")  # first-degree relations in brp.relatie


class EnforcementHistoryConfig(_Section):
    instruments: list[str]
    window_years: int = Field(5, ge=1)
    family_relations: list[str] = []

    @model_validator(mode="after")
    def _first_degree_only(self) -> EnforcementHistoryConfig:
        for relation in self.family_relations:
            if relation not in FAMILY_RELATIONS:
                raise ValueError(
                    f"family relation {relation!r} is not a first-degree relation {FAMILY_RELATIONS}"
                )
        return self


class StaffSafetyConfig(_Section):
    instruments: list[str]
    default_team: str
    window_months: int = Field(12, ge=1)


class SignalsConfig(_Section):
    many_companies_in_building: ManyCompaniesConfig
    many_companies_at_address: ManyCompaniesAtAddressConfig
    identical_businesses: IdenticalBusinessesConfig
    overcrowding: OvercrowdingConfig
    residents_at_non_residential: ResidentsAtNonResidentialConfig
    company_churn: CompanyChurnConfig
    address_not_in_bag: AddressNotInBagConfig
    enforcement_history: EnforcementHistoryConfig
    staff_safety: StaffSafetyConfig


def load_config(path: str | Path | None = None) -> SignalsConfig:
    """The thresholds from ``path``, else ``$KNOOPPUNT_SIGNALS_CONFIG``, else the defaults."""
    path = Path(path or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return SignalsConfig.model_validate(data)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: invalid signals configuration: {exc}") from exc

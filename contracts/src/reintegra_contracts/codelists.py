"""Code lists of the published language.

Each code list is a ``StrEnum``; :data:`LABELS` gives its Spanish and English labels, which is what
people see. Codes never change meaning; new codes may be added (a compatible change).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ReturnType(StrEnum):
    FORCED = "forced"
    VOLUNTARY = "voluntary"
    ASSISTED_VOLUNTARY = "assisted_voluntary"


class TransportMode(StrEnum):
    AIR = "air"
    LAND = "land"
    SEA = "sea"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    UNDISCLOSED = "undisclosed"


class Vulnerability(StrEnum):
    UNACCOMPANIED_CHILD = "unaccompanied_child"
    SEPARATED_CHILD = "separated_child"
    CHILD_IN_FAMILY = "child_in_family"
    PREGNANT = "pregnant"
    DISABILITY = "disability"
    CHRONIC_ILLNESS = "chronic_illness"
    OLDER_ADULT = "older_adult"
    SURVIVOR_OF_GBV = "survivor_of_gbv"
    SURVIVOR_OF_TRAFFICKING = "survivor_of_trafficking"
    LGBTIQ = "lgbtiq"
    INDIGENOUS = "indigenous"
    DISPLACEMENT_RISK = "displacement_risk"


class Dimension(StrEnum):
    ECONOMIC = "economic"
    SOCIAL = "social"
    PSYCHOSOCIAL = "psychosocial"


class Level(StrEnum):
    INDIVIDUAL = "individual"
    COMMUNITY = "community"
    STRUCTURAL = "structural"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ServiceCategory(StrEnum):
    HEALTH = "health"
    MENTAL_HEALTH = "mental_health"
    PSYCHOSOCIAL_SUPPORT = "psychosocial_support"
    EMPLOYMENT = "employment"
    SKILLS_CERTIFICATION = "skills_certification"
    MICROENTERPRISE = "microenterprise"
    FINANCIAL_SERVICES = "financial_services"
    EDUCATION = "education"
    IDENTITY_DOCUMENTS = "identity_documents"
    SHELTER = "shelter"
    LEGAL_AID = "legal_aid"
    CHILD_PROTECTION = "child_protection"
    FAMILY_REUNIFICATION = "family_reunification"
    SOCIAL_PROTECTION = "social_protection"
    PROTECTION = "protection"


SERVICE_CATEGORY_DIMENSION: Final[dict[ServiceCategory, Dimension]] = {
    ServiceCategory.HEALTH: Dimension.SOCIAL,
    ServiceCategory.MENTAL_HEALTH: Dimension.PSYCHOSOCIAL,
    ServiceCategory.PSYCHOSOCIAL_SUPPORT: Dimension.PSYCHOSOCIAL,
    ServiceCategory.EMPLOYMENT: Dimension.ECONOMIC,
    ServiceCategory.SKILLS_CERTIFICATION: Dimension.ECONOMIC,
    ServiceCategory.MICROENTERPRISE: Dimension.ECONOMIC,
    ServiceCategory.FINANCIAL_SERVICES: Dimension.ECONOMIC,
    ServiceCategory.EDUCATION: Dimension.SOCIAL,
    ServiceCategory.IDENTITY_DOCUMENTS: Dimension.SOCIAL,
    ServiceCategory.SHELTER: Dimension.SOCIAL,
    ServiceCategory.LEGAL_AID: Dimension.SOCIAL,
    ServiceCategory.CHILD_PROTECTION: Dimension.PSYCHOSOCIAL,
    ServiceCategory.FAMILY_REUNIFICATION: Dimension.PSYCHOSOCIAL,
    ServiceCategory.SOCIAL_PROTECTION: Dimension.SOCIAL,
    ServiceCategory.PROTECTION: Dimension.PSYCHOSOCIAL,
}
"""The dimension of the IOM integrated approach that each service category answers."""

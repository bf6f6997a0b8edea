"""Lookups: search form, hit/no-hit answer, and the details as a second, logged request."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

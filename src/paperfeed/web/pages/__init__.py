"""Server-rendered HTML pages (work without JavaScript)."""

from fastapi import APIRouter

router = APIRouter()

"""JSON API. Paper endpoints follow the Hugging Face Daily Papers API contract."""

from fastapi import APIRouter

router = APIRouter(prefix="/api")

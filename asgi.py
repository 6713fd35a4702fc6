"""ASGI entry point: ``uvicorn asgi:app``. Builds the app from settings; nothing else."""

from payments.entrypoints.app import create_app
from payments.settings import Settings

app = create_app(Settings())

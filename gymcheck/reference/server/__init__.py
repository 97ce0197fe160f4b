"""The reference OpenAI-compatible model server: FastAPI over a Hugging Face causal LM on the CPU.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /tokenize``, ``GET /health``.
``requests`` validates what comes in, ``responses`` shapes what goes out, ``app`` holds the
handling and the routes; the planted faults live in ``gymcheck.reference.faults``.
"""

from gymcheck.reference.server.app import ReferenceServer, create_app
from gymcheck.reference.server.requests import RequestError

__all__ = ["ReferenceServer", "RequestError", "create_app"]

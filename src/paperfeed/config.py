"""Typed settings, one place. Every field is read from a ``PAPERFEED_*`` environment variable.

README.md documents each setting in a table; ``tests/test_config.py`` fails when one is missing.
"""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ARXIV_HOST = "export.arxiv.org"
DAILY_PAPERS_HOST = "huggingface.co"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./var"),
        description="Folder for the SQLite database, backups and derived indexes.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database. Unset: SQLite file `paperfeed.db` in the data dir. "
            "`postgresql+psycopg://user@host/db` selects PostgreSQL."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address `paperfeed serve` binds to.")
    port: int = Field(default=8000, description="Port `paperfeed serve` listens on.")
    workers: int = Field(default=1, description="Number of web worker processes for `serve`.")
    worker_healthcheck_seconds: int = Field(
        default=60,
        ge=1,
        description=(
            "How long `serve` waits for a new or busy worker process to answer its health "
            "check before killing it (uvicorn's default of 5 s killed replacement workers "
            "still starting under load)."
        ),
    )
    graceful_shutdown_seconds: int = Field(
        default=30,
        ge=1,
        description=(
            "On shutdown, how long `serve` lets requests in flight finish before cancelling them."
        ),
    )
    forwarded_allow_ips: str = Field(
        default="",
        description=(
            "Comma-separated addresses of reverse proxies whose `X-Forwarded-For` / "
            "`X-Forwarded-Proto` `serve` trusts (`*`: any). Empty: no proxy is trusted, the "
            "client is the socket's peer."
        ),
    )
    base_url: str = Field(
        default="",
        description=(
            "Public URL of the site, used for absolute links in feeds and mail. Unset: "
            "`http://HOST:PORT` of `PAPERFEED_HOST` and `PAPERFEED_PORT` (or `serve --host "
            "--port`), a wildcard address (`0.0.0.0`, `::`) read as loopback."
        ),
    )
    site_name: str = Field(default="paperfeed", description="Name shown in page headers and feeds.")
    cache_seconds: float = Field(
        default=2.0,
        description=(
            "How long a worker reuses a rendered feed page or API list before asking the "
            "database again (0 disables the cache); a busy page past its time is served "
            "while one refresh runs."
        ),
    )
    page_size: int = Field(default=50, description="Default number of papers per list page.")
    trending_half_life_hours: float = Field(
        default=36.0, description="Half-life of an upvote in the trending score, in hours."
    )
    trending_window_days: int = Field(
        default=14, description="Only papers featured within this many days can trend."
    )
    arxiv_api_url: str = Field(
        default="https://export.arxiv.org/api/query",
        description=(
            "arXiv Atom API endpoint. Fixed in production; tests point it at a loopback server."
        ),
    )
    arxiv_request_interval: float = Field(
        default=3.0, description="Seconds between two requests to the arXiv API (arXiv's rule)."
    )
    daily_papers_api_url: str = Field(
        default="https://huggingface.co/api/daily_papers",
        description="Hugging Face Daily Papers API used by `ingest daily-papers --remote`.",
    )
    http_timeout: float = Field(
        default=20.0, description="Timeout in seconds of one outgoing HTTP request."
    )
    demo_fetch_timeout: float = Field(
        default=10.0,
        description="Seconds `make run` / `paperfeed demo` may spend trying the remote APIs.",
    )

    # --- search: keyword index, fusion
    search_node: str = Field(
        default_factory=lambda: socket.gethostname() or "node",
        description=(
            "Name of this node in `index_state` (its derived search indexes live on its own "
            "disk under the data dir). Default: the host name."
        ),
    )
    search_sync_seconds: float = Field(
        default=5.0,
        description=(
            "How often (at most) a web worker checks the database for papers changed since its "
            "keyword index's watermark, and catches up (0: on every search)."
        ),
    )
    search_sync_overlap_seconds: float = Field(
        default=300.0,
        description=(
            "Papers changed this many seconds before the keyword index's watermark are "
            "re-indexed on each update (covers transactions that committed late)."
        ),
    )
    search_rrf_k: float = Field(
        default=5.0,
        description=(
            "Constant k of the fusion: score = 1 / (k + keyword rank) + w / (k + semantic "
            "rank). Fitted on the known-item sets' dev half (benchmarks/RESULTS.md)."
        ),
    )
    search_semantic_weight: float = Field(
        default=1.0,
        ge=0,
        description=(
            "Weight of the semantic side in the fusion (the keyword side weighs 1): score = "
            "1 / (k + keyword rank) + weight / (k + semantic rank)."
        ),
    )
    search_candidates: int = Field(
        default=200,
        description="Keyword and semantic candidates fused per search (more: deeper pages).",
    )

    # --- search: semantic index (embeddings, approximate nearest neighbours)
    embedding_backend: Literal["onnx", "onnx-int8", "torch-bf16", "torch", "off"] = Field(
        default="onnx",
        description=(
            "How all-MiniLM-L6-v2 runs: `onnx` (ONNX Runtime, fused fp32 graph exported at "
            "first use), `onnx-int8` (int8 weights: faster, below the agreement bar), "
            "`torch-bf16` (the encoder in bfloat16 on PyTorch with prepacked oneDNN weights; "
            "float32 on CPUs without native bfloat16), `torch` (the reference "
            "sentence-transformers model) or `off` (keyword search only)."
        ),
    )
    embedding_model_dir: Path | None = Field(
        default=None,
        description="Where exported ONNX models are kept. Unset: `models/` in the data dir.",
    )
    embedding_batch_size: int = Field(
        default=16, ge=1, le=1024, description="Texts per embedding batch (length-sorted)."
    )
    embedding_max_length: int = Field(
        default=256, ge=16, le=512, description="Tokens embedded per text (the model's 256)."
    )
    embedding_threads: int = Field(
        default=0, ge=0, description="CPU threads for embedding (0: all cores)."
    )
    embedding_load_at_start: bool = Field(
        default=True,
        description=(
            "Each web worker loads the embedding model and the search indexes when it starts, "
            "before it accepts requests (false: at the first search, which then waits)."
        ),
    )
    embedding_query_cache_size: int = Field(
        default=2048, ge=0, description="Query embeddings each worker keeps (LRU)."
    )
    embedding_commit_every: int = Field(
        default=256, ge=1, description="Papers embedded per committed batch during an update."
    )
    ann_exact_threshold: int = Field(
        default=20_000,
        ge=0,
        description="Below this many embeddings, similarity search is exact (no ANN index).",
    )
    ann_connectivity: int = Field(
        default=16, ge=4, le=128, description="HNSW graph degree (M) of the ANN index."
    )
    ann_expansion_add: int = Field(
        default=128, ge=8, description="HNSW candidate list size while building (efConstruction)."
    )
    ann_expansion_search: int = Field(
        default=256, ge=8, description="HNSW candidate list size while searching (ef)."
    )
    ann_refresh_seconds: float = Field(
        default=5.0,
        ge=0,
        description=(
            "How often (at most) a worker checks the database for new embeddings and the "
            "node for a new ANN file (0: always)."
        ),
    )
    ann_delta_max: int = Field(
        default=20_000,
        ge=0,
        description=(
            "Embeddings a worker keeps in memory beside the shared, memory-mapped ANN file "
            "before it writes a new file itself (0: only `index update` writes it)."
        ),
    )

    # --- for you: personal recommendations (paperfeed/recommend/)
    recommend_background: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description=(
            "Papers sampled at random (seeded, once per process) from the corpus as "
            "background negatives of every reader's model."
        ),
    )
    recommend_skip_after_hours: float = Field(
        default=24.0,
        ge=0,
        description=(
            "A paper shown in a reader's For you list this many hours ago and neither "
            "upvoted nor saved since counts as seen and skipped (a weak negative)."
        ),
    )
    recommend_min_positives: int = Field(
        default=5,
        ge=1,
        le=1000,
        description=(
            "Positives (with embeddings) a reader needs for a learned linear model; with "
            "fewer, papers nearest to them are recommended."
        ),
    )
    recommend_refresh_per_pass: int = Field(
        default=500,
        ge=0,
        description=(
            "Readers' models the worker checks per pass, retraining those whose signals "
            "changed (0: the worker leaves them to the web process)."
        ),
    )

    # --- community: accounts, sessions, limits, mail
    secret_key: str | None = Field(
        default=None,
        description=(
            "Key that signs CSRF tokens and password-reset links. Unset: a random key is "
            "generated once and kept in the database (shared by every worker)."
        ),
    )
    cookie_secure: bool = Field(
        default=False,
        description=(
            "Serve cookies with `Secure` and `__Host-` names. Set it when the site is served "
            "over HTTPS."
        ),
    )
    session_days: int = Field(default=30, description="How long a login lasts, in days.")
    argon2_time_cost: int = Field(
        default=3, description="Argon2id passes; hashes made with other values are redone at login."
    )
    argon2_memory_kib: int = Field(
        default=65536, description="Argon2id memory in KiB; hashes are redone at login on change."
    )
    redis_url: str | None = Field(
        default=None,
        description=(
            "Redis URL (`redis://127.0.0.1:6379/0`) for the rate-limit counters. Unset: they "
            "live in the database. Either way every worker process shares them."
        ),
    )
    login_free_failures: int = Field(
        default=5, ge=1, description="Failed logins of an account before its growing delay."
    )
    login_delay_seconds: float = Field(
        default=30.0, gt=0, description="First wait after the free failures; doubles per failure."
    )
    login_delay_max_seconds: float = Field(
        default=900.0, gt=0, description="Longest wait between two login attempts of an account."
    )
    rate_limit_login_ip: str = Field(
        default="20/minute", description="Login attempts allowed per client address."
    )
    rate_limit_reset: str = Field(
        default="3/hour",
        description="Reset mails allowed per account (also: verification links, sign-up notes).",
    )
    rate_limit_reset_ip: str = Field(
        default="10/hour", description="Password-reset requests allowed per client address."
    )
    rate_limit_signup_ip: str = Field(
        default="10/hour", description="Sign-ups allowed per client address."
    )
    rate_limit_comments: str = Field(
        default="10/minute", description="Comments and replies allowed per user."
    )
    reset_link_minutes: int = Field(
        default=60, description="How long a password-reset link stays valid, in minutes."
    )
    email_verify_link_hours: int = Field(
        default=48, ge=1, description="How long an account's address-verification link is valid."
    )
    submission_window_days: int = Field(
        default=14,
        description="Papers can be submitted until this many days after arXiv publication.",
    )
    submission_daily_limit: int = Field(
        default=5, description="Papers one user may submit per day."
    )
    submission_fetch_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Total time a submission's background fetch from arXiv may take, retries "
        "included.",
    )
    submission_fetches_per_user: int = Field(
        default=2, ge=1, description="arXiv fetches of submissions one user may have running."
    )
    submission_fetches: int = Field(
        default=4, ge=1, description="arXiv fetches of submissions running at once, site-wide."
    )
    rate_limit_claims: str = Field(
        default="10/hour", description="Authorship claims allowed per user."
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for outgoing mail. Unset: mail goes to the outbox on disk.",
    )
    smtp_port: int = Field(default=587, description="SMTP port.")
    smtp_user: str | None = Field(default=None, description="SMTP user name, if any.")
    smtp_password: str | None = Field(default=None, description="SMTP password, if any.")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        default="starttls",
        description="`starttls`, `tls` (implicit TLS, usually port 465) or `none`.",
    )
    smtp_timeout: float = Field(default=10.0, description="Seconds before an SMTP call fails.")
    mail_from: str = Field(
        default="paperfeed@localhost", description="Sender address of outgoing mail."
    )
    outbox_max_messages: int = Field(
        default=1000,
        ge=1,
        description=(
            "With no SMTP relay, mail is written to `DATA_DIR/outbox/` for the admin to read at "
            "`/admin/outbox`; beyond this many messages the oldest are deleted (logged)."
        ),
    )

    # --- digests: subscriptions, delivery, worker
    mail_reply_to: str | None = Field(
        default=None, description="Reply-To of digests and confirmation mail. Unset: none."
    )
    rate_limit_subscribe: str = Field(
        default="3/hour", description="Confirmation mails allowed per address (`limits` syntax)."
    )
    rate_limit_subscribe_ip: str = Field(
        default="20/hour", description="Subscription requests allowed per client address."
    )
    digest_confirm_link_hours: int = Field(
        default=48, ge=1, description="How long a subscription confirmation link stays valid."
    )
    digest_default_papers: int = Field(
        default=10, ge=1, le=50, description="Papers per digest unless the subscriber chose."
    )
    digest_rate_per_second: float = Field(
        default=10.0,
        ge=0,
        description=(
            "Digest messages per second all senders sharing the database send together at "
            "most (0: no cap)."
        ),
    )
    digest_rate_per_hour: int = Field(
        default=0,
        ge=0,
        description=(
            "Digest messages in any rolling hour all senders sharing the database send "
            "together at most (0: no cap)."
        ),
    )
    digest_retry_base_seconds: float = Field(
        default=60.0, gt=0, description="First retry delay of a deferred delivery (doubles)."
    )
    digest_retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="Longest retry delay of a deferred delivery."
    )
    digest_max_hard_bounces: int = Field(
        default=3, ge=1, description="Permanent failures after which an address is suppressed."
    )
    digest_pause_after_failures: int = Field(
        default=25, ge=1, description="Consecutive failed or deferred deliveries that pause a run."
    )
    digest_claim_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A sender silent this long is dead; its in-flight claims become uncertain.",
    )
    worker_poll_seconds: float = Field(
        default=60.0, gt=0, description="How often `paperfeed worker` looks for work."
    )
    worker_ingest_categories: str = Field(
        default="cs.AI,cs.CL,cs.CV,cs.LG",
        description="arXiv categories `paperfeed worker` ingests daily (empty: no ingest).",
    )
    worker_ingest_hour: int = Field(
        default=2, ge=0, le=23, description="UTC hour at which `paperfeed worker` ingests."
    )
    # The metadata fill (sources/metadata_fill.py): categories that listings lack, from arXiv.
    metadata_fill_per_pass: int = Field(
        default=500, ge=0, description="Papers a worker pass asks arXiv about (0: no fill)."
    )
    metadata_fill_seconds: float = Field(
        default=30.0, gt=0, description="Time one worker pass may spend filling metadata."
    )

    @field_validator("arxiv_api_url", "daily_papers_api_url")
    @classmethod
    def _fixed_hosts(cls, value: str, info: object) -> str:
        # Outgoing fetches go to one fixed host each. The only other hosts allowed are on the
        # loopback interface, where the tests serve recorded documents.
        field = getattr(info, "field_name", "")
        official = ARXIV_HOST if field == "arxiv_api_url" else DAILY_PAPERS_HOST
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or parts.hostname not in (official, *LOOPBACK):
            raise ValueError(f"must be an https URL on {official} (or a loopback test server)")
        return value

    @model_validator(mode="after")
    def _default_base_url(self) -> Settings:
        # An explicit PAPERFEED_BASE_URL wins; else links point at the server being run.
        if not self.base_url:
            self.base_url = served_url(self.host, self.port)
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'paperfeed.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


def served_url(host: str, port: int) -> str:
    """``http://host:port`` as a browser on this machine reaches it: a wildcard bind
    address becomes loopback, an IPv6 address gets its brackets."""
    name = host.strip().strip("[]") or "127.0.0.1"
    name = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(name, name)
    if ":" in name:
        name = f"[{name}]"
    return f"http://{name}:{port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

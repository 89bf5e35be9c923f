"""Typed settings, read from the environment once, when `Settings()` is built.

Nothing in the code base reads `os.environ` directly: the app factory, the worker
entry point and the CLI each build one `Settings` and hand it down. Tests build
their own with keyword overrides instead of patching the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"

GiB = 1024**3

# The development SECRET_KEY: fine on a laptop, refused with ENV=production (see `_refuse_development_secrets`).
DEVELOPMENT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 - public on purpose, that is why production refuses it


class InsecureSettings(RuntimeError):
    """ENV=production with a secret anyone can read in this repository; the message names each setting to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    secret_key: str = Field(default=DEVELOPMENT_SECRET_KEY, min_length=16)
    # Signed share links carry a key id so keys rotate: "kid:secret,kid:secret"; the first signs.
    link_signing_keys: str = ""

    database_url: str = f"sqlite:///{VAR_DIR / 'xinglian.sqlite3'}"
    database_echo: bool = False
    storage_url: str = f"file://{VAR_DIR / 'storage'}"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    # Base URL that serves stored objects publicly (a CDN in front of the bucket).
    storage_public_url: str | None = None
    search_url: str = str(VAR_DIR / "search")
    celery_broker_url: str = f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
    celery_result_backend: str | None = None
    # Namespaces every Redis key of the broker, so several deployments (or test runs) share one Redis.
    celery_key_prefix: str = ""
    # Celery beat's record of when each periodic job last ran (a file; its directory is created).
    celery_beat_schedule: str = str(VAR_DIR / "celerybeat-schedule")
    # Where links in e-mails, presigned local URLs and share links point to.
    public_base_url: str = "http://127.0.0.1:8000"

    session_cookie_secure: bool = False
    # How many reverse proxies in front of us set X-Forwarded-For (0: trust none).
    proxy_fix_hops: int = 0
    api_token_ttl_days: int = 30
    # The sign-in throttle (core.accounts.service.LoginPolicy): failures each scope lets through before it backs off
    # exponentially from its latest failure, base × 2^(failures − free) capped at the max; failures count this long.
    login_free_failures: int = Field(default=3, ge=0)  # one account from one source (device or IP)
    login_account_free_failures: int = Field(default=20, ge=0)  # one account from every unknown source
    login_ip_free_failures: int = Field(default=30, ge=0)  # one IP across accounts
    login_backoff_base_seconds: int = Field(default=1, ge=1)
    login_backoff_max_seconds: int = Field(default=900, ge=1)
    login_window_seconds: int = Field(default=86400, ge=1)
    # A device or IP that signed in to an account this recently is never held back by others' failures.
    login_known_source_days: int = Field(default=90, ge=0)
    password_hash_memory_kib: int = 19 * 1024
    password_hash_time_cost: int = 2
    # Phone sign-in (core.accounts.phone.SmsPolicy carries these to services) and password reset by e-mail.
    sms_provider: Literal["sandbox"] = "sandbox"
    mail_provider: Literal["sandbox"] = "sandbox"
    sms_code_ttl_seconds: int = Field(default=300, ge=60)
    sms_code_max_attempts: int = Field(default=5, ge=1)
    sms_resend_seconds: int = Field(default=60, ge=1)  # per phone number
    sms_per_phone_per_day: int = Field(default=10, ge=1)
    password_reset_ttl_minutes: int = Field(default=60, ge=5)

    upload_max_bytes: int = 2 * GiB
    upload_chunk_max_bytes: int = 64 * 1024 * 1024
    video_max_seconds: float = 600.0
    video_max_dimension: int = 4096
    video_max_fps: float = 60.0

    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    outbox_batch_size: int = 500

    # Catalog and affiliate marketplace (commerce.catalog.limits.CatalogLimits carries these to services).
    product_image_max_bytes: int = 10 * 1024 * 1024
    product_image_max_pixels: int = 40_000_000
    product_max_images: int = 9
    product_max_skus: int = 200
    catalog_import_max_bytes: int = 5 * 1024 * 1024
    catalog_import_max_rows: int = 5000
    affiliate_rate_min_bp: int = 100  # 1 %
    affiliate_rate_max_bp: int = 5000  # 50 %, also the cap on artist + sharer together
    video_max_products: int = 6
    # Money path (issue 6). Amounts in fen, rates in basis points, windows in whole units.
    payment_provider: Literal["sandbox", "wechatpay", "alipay"] = "sandbox"
    # Signs the built-in sandbox provider's webhooks: "secret" or "secret1,secret0" (rotation; the first signs).
    sandbox_webhook_secrets: str = ""
    sandbox_fee_bp: int = Field(default=60, ge=0, le=1000)
    webhook_tolerance_seconds: int = Field(default=300, ge=30)
    # WeChat Pay API v3 (commerce.payments.wechatpay): a provider is offered once its merchant id is set.
    # Keys are PEM text or the path of a PEM file. The platform key is WeChat Pay's public key (then its id,
    # PUB_KEY_ID_..., goes in WECHATPAY_PLATFORM_KEY_ID) or a platform certificate (its serial is its id).
    wechatpay_mchid: str = ""
    wechatpay_appid: str = ""
    wechatpay_merchant_serial_no: str = ""  # the serial of the merchant's API certificate
    wechatpay_private_key: str = ""  # apiclient_key.pem
    wechatpay_apiv3_key: str = ""  # 32 characters: decrypts notifications
    wechatpay_platform_key: str = ""
    wechatpay_platform_key_id: str = ""
    wechatpay_base_url: str = "https://api.mch.weixin.qq.com"
    # Alipay (commerce.payments.alipay): offered once the app id is set. Keys are PEM text or a PEM file's path.
    alipay_app_id: str = ""
    alipay_private_key: str = ""  # the app's private key (signs requests, RSA2)
    alipay_public_key: str = ""  # Alipay's public key (verifies answers and notifications)
    alipay_seller_id: str = ""  # the merchant's PID (2088...); when set, notifications for another seller are refused
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"
    # WeChat sign-in (OAuth2 web authorization in WeChat's browser) and JS-SDK share cards (core.accounts.wechat):
    # offered once the official account's app id is set. snsapi_userinfo asks the user and brings the nickname.
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_oauth_scope: Literal["snsapi_base", "snsapi_userinfo"] = "snsapi_userinfo"
    wechat_oauth_base_url: str = "https://open.weixin.qq.com"
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    wechat_state_ttl_seconds: int = Field(default=600, ge=60)
    wechat_timeout_seconds: float = Field(default=5.0, gt=0)
    platform_fee_bp: int = Field(default=500, ge=0, le=5000)
    commission_levels: int = Field(default=1, ge=1, le=2)  # never more than two: no pyramids
    level2_share_bp: int = Field(default=2000, ge=0, le=5000)  # the upstream sharer's part of a commission
    attribution_window_days: int = Field(default=7, ge=1)
    binding_days: int = Field(default=15, ge=0)
    binding_days_after_order: int = Field(default=30, ge=0)
    share_link_ttl_days: int = Field(default=30, ge=1)
    reservation_minutes: int = Field(default=15, ge=1)
    auto_confirm_days: int = Field(default=10, ge=1)
    return_window_days: int = Field(default=7, ge=0)
    payout_min_fen: int = Field(default=1000, ge=1)
    review_click_to_buy_seconds: int = Field(default=10, ge=0)
    review_device_orders_per_day: int = Field(default=5, ge=1)
    review_new_account_minutes: int = Field(default=30, ge=0)
    settlement_batch_size: int = Field(default=200, ge=1)

    # Flash sales (commerce.marketing.gates): the admission gate. sql: one conditional UPDATE on the sale row (the
    # embedded default, also on PostgreSQL); redis: one Lua script on flash_sale_redis_url (scale-out).
    flash_sale_gate: Literal["sql", "redis"] = "sql"
    flash_sale_redis_url: str = "redis://127.0.0.1:6379/0"
    flash_sale_key_prefix: str = "xl"  # namespaces the gate's keys, so deployments (or test runs) share a Redis

    # Customer-service chat (web.realtime): how a message reaches the other side's open WebSocket or SSE stream.
    # memory: in-process fan-out, the embedded default for one process (it does not cross processes: gunicorn's
    # workers or hosts would not hear each other); redis: pub/sub on realtime_redis_url, across every worker.
    # Unset: redis when the Celery broker is Redis (a scaled-out deployment), memory otherwise.
    realtime_backend: Literal["memory", "redis"] | None = None
    realtime_redis_url: str | None = None  # unset: the Celery broker's URL when it is Redis, else the local Redis
    realtime_key_prefix: str = "xl"  # namespaces the channels and presence keys, so deployments share a Redis
    support_image_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)

    # Search: how the embedded engine cuts Chinese (chosen by precision@5, tests/search/relevance/),
    # and which analyzer Elasticsearch text fields use (cjk is built in; smartcn and ik need plugins).
    search_chinese_tokenizer: Literal["han", "jieba"] = "han"
    search_es_analyzer: Literal["cjk", "smartcn", "ik"] = "cjk"
    # Media pipeline. ffmpeg/ffprobe: explicit paths win, then the system's, then the static build `make install` adds.
    ffmpeg_path: str | None = None
    ffprobe_path: str | None = None
    # "short_side:kbps,..." — the 9:16 ladder; landscape and square sources get the same rungs by short side.
    media_ladder: str = "1080:6000,720:3000,540:1600,360:700"
    media_x264_preset: Literal["superfast", "veryfast", "faster", "fast", "medium", "slow"] = "veryfast"
    media_crf: int = Field(default=21, ge=0, le=51)
    media_work_dir: str = str(VAR_DIR / "media-work")
    # Progress is written (and the job's heartbeat renewed) at most this often.
    media_heartbeat_seconds: float = 5.0
    # A processing job whose heartbeat is older than this is stalled: requeued, or taken over on redelivery.
    media_stall_seconds: int = 180
    # A video left "uploaded" this long without a worker claiming it is enqueued again (a lost message).
    media_queue_stale_seconds: int = 1800
    media_max_attempts: int = 5
    # ffmpeg's time limit grows with the clip: base + factor x duration.
    media_timeout_base_seconds: float = 300.0
    media_timeout_per_second: float = 8.0
    # Resumable uploads: an upload with no activity for this long is aborted by the cleanup job.
    upload_abandon_seconds: int = 24 * 3600
    upload_part_bytes: int = 16 * 1024 * 1024
    # Redis redelivers an unacknowledged task this long after it was handed out (must exceed the longest task).
    celery_visibility_timeout: int = 3 * 3600

    # Rate limits (web.ratelimit, Flask-Limiter). memory:// counts per web process, enough on one machine;
    # several processes or hosts share one count through redis://host:6379/N.
    rate_limits_enabled: bool = True
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = "xl"  # namespaces the counters, so deployments (or test runs) share a Redis
    # Limit strings in Flask-Limiter's notation; per signed-in account, or per address for anonymous calls.
    rate_limit_signup: str = "10 per hour;50 per day"  # per address: sign-ups are anonymous
    rate_limit_share_links: str = "30 per minute;500 per day"
    rate_limit_checkout: str = "20 per minute;200 per day"
    rate_limit_withdrawals: str = "5 per hour;20 per day"
    rate_limit_uploads: str = "30 per hour;300 per day"
    rate_limit_webhook_errors: str = "30 per minute"  # per address; only refused notifications count
    rate_limit_sms: str = "5 per minute;50 per day"  # per address; each phone number has its own limit too
    rate_limit_support_messages: str = "30 per minute;1000 per day"  # per sender: chat texts, cards and images
    rate_limit_password_reset: str = "5 per hour;20 per day"  # noqa: S105 - a limit, not a password; per address

    # Content review (moderation.review.ReviewPolicy): who waits for a reviewer before going public.
    # everyone: every upload; new_accounts: accounts with fewer approved videos than review_trusted_after;
    # nobody: all public at once. Public-at-once videos are sampled into the queue at review_sample_bp.
    review_mode: Literal["everyone", "new_accounts", "nobody"] = "new_accounts"
    review_trusted_after: int = Field(default=3, ge=0)
    review_sample_bp: int = Field(default=1000, ge=0, le=10_000)
    review_report_threshold: int = Field(default=3, ge=1)  # different reporters that send a subject to the queue
    # Products in regulated categories (cosmetics, food, health food) go on sale once the brand's papers are approved.
    qualifications_required: bool = True

    # Bookings (commerce.booking.policy.BookingPolicy carries these to services).
    booking_reply_hours: int = 72  # no answer within this lets an invitation, quote or acceptance expire
    booking_max_revisions: int = 2  # default revision rounds for new campaigns
    booking_live_check_hours: int = 72  # a published booking video must stay live this long before payment
    booking_platform_fee_bp: int = 500  # 5 % of the fee, kept when escrow is released to the artist
    booking_kill_fee_bp: int = 5000  # the artist keeps 50 % when the brand cancels after a draft arrived

    # Operations: logs, metrics, how long data that grows forever is kept (beat `maintenance.*` jobs prune it).
    log_format: Literal["text", "json"] = "text"  # json: one object per line, with the request id
    log_level: str = "INFO"
    metrics_token: str = ""  # when set, /metrics wants `Authorization: Bearer <token>`
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)  # 0: workers export no metrics
    # prometheus_client's own variable (it must be in the environment before the process starts).
    prometheus_multiproc_dir: str = ""
    idempotency_retention_hours: int = Field(default=48, ge=1)  # a retry later than this runs again
    outbox_retention_days: int = Field(default=7, ge=1)  # delivered events; the latest per entity is kept
    view_events_retention_days: int = Field(default=90, ge=8)  # raw view events, once aggregated
    login_attempts_retention_days: int = Field(default=30, ge=1)

    @field_validator("database_url")
    @classmethod
    def _normalise_pg_driver(cls, v: str) -> str:
        # Heroku-style URLs name the dialect only; we ship psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if v.startswith(prefix):
                return "postgresql+psycopg://" + v[len(prefix) :]
        return v

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> Settings:
        # Raised as is (not a ValueError, which pydantic would fold into a ValidationError): one message for all.
        if self.env == "production" and (problems := self.development_secrets()):
            raise InsecureSettings(
                "ENV=production refuses to start with development secrets; set each of these to its own long random "
                "value:\n" + "\n".join(f"  {name}: {why}" for name, why in problems.items())
            )
        return self

    def development_secrets(self) -> dict[str, str]:
        """Each setting whose secret is the development one or derived from it -> why it is refused."""
        dev = DEVELOPMENT_SECRET_KEY.encode()
        dev_key = self.secret_key == DEVELOPMENT_SECRET_KEY
        problems: list[tuple[str, str]] = []
        if dev_key:
            problems.append(("SECRET_KEY", "is the development key (it signs sessions and local storage URLs)"))
        if dev_key and not self.link_signing_keys.strip():
            problems.append(("LINK_SIGNING_KEYS", "is unset, so share links are signed with the development key"))
        elif any(secret == dev for _, secret in self.signing_keys()):
            problems.append(("LINK_SIGNING_KEYS", "holds the development key"))
        if dev_key and not self.sandbox_webhook_secrets.strip():
            why = "is unset, so payment webhooks are signed with a secret derived from the development key"
            problems.append(("SANDBOX_WEBHOOK_SECRETS", why))
        elif any(secret in (dev, b"sandbox:" + dev) for secret in self.sandbox_secrets()):
            problems.append(("SANDBOX_WEBHOOK_SECRETS", "holds the development key or the secret derived from it"))
        return dict(problems)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def realtime(self) -> tuple[str, str]:
        """(backend, Redis URL) of the chat's fan-out, with the defaults resolved."""
        broker_is_redis = self.celery_broker_url.startswith(("redis://", "rediss://"))
        backend = self.realtime_backend or ("redis" if broker_is_redis else "memory")
        url = self.realtime_redis_url or (self.celery_broker_url if broker_is_redis else "redis://127.0.0.1:6379/0")
        return backend, url

    @property
    def search_is_remote(self) -> bool:
        return self.search_url.startswith(("http://", "https://"))

    def signing_keys(self) -> list[tuple[str, bytes]]:
        """(key id, secret) pairs; the first one signs, all of them verify."""
        pairs = []
        for item in filter(None, (p.strip() for p in self.link_signing_keys.split(","))):
            kid, _, secret = item.partition(":")
            if not kid or not secret:
                raise ValueError("LINK_SIGNING_KEYS entries must look like kid:secret")
            pairs.append((kid, secret.encode()))
        return pairs or [("k0", self.secret_key.encode())]

    def sandbox_secrets(self) -> list[bytes]:
        """Webhook secrets of the sandbox provider; the first signs, all verify."""
        secrets = [p.strip().encode() for p in self.sandbox_webhook_secrets.split(",") if p.strip()]
        return secrets or [f"sandbox:{self.secret_key}".encode()]

"""Settings for the intake load bench only: production settings with the per-IP rate limit lifted
(every bench client is 127.0.0.1, which production would rightly throttle at 120/min)."""

from salesops.settings import *  # noqa: F403

LEAD_API_RATE_LIMIT = (10**9, 60)

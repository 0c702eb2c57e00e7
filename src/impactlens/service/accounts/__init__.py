"""Customers, not just clicks: account health, churn risk and the voice of the customer.

The public API; the CLI, the review and the dashboard call these.

>>> from impactlens.warehouse import Warehouse
>>> wh = Warehouse.connect("duckdb://:memory:"); _ = wh.ensure_schema()
>>> score_accounts(wh).churn.status
'no_data'
"""

from impactlens.service.accounts.churn import (
    AccountRisk,
    Backtest,
    ChurnModelResult,
    Driver,
    fit_churn_model,
)
from impactlens.service.accounts.config import (
    ChurnConfig,
    HealthConfig,
    configs_from_workspace,
    load_churn_config,
    load_health_config,
)
from impactlens.service.accounts.feedback import LinkedFeedback, release_feedback, release_terms
from impactlens.service.accounts.health import AccountHealth, HealthReport, compute_health
from impactlens.service.accounts.portfolio import (
    AccountBook,
    AccountDetail,
    AccountList,
    AccountRow,
    account_detail,
    build_account_book,
    score_accounts,
)
from impactlens.service.accounts.release_impact import (
    ReleaseCustomerImpact,
    assess_release_customers,
    releases_for_account,
)
from impactlens.service.accounts.voice import (
    RateRatio,
    SurveyScore,
    SurveyTrend,
    rate_ratio,
    summarize_survey,
    survey_trend,
)

__all__ = [
    "AccountBook",
    "AccountDetail",
    "AccountHealth",
    "AccountList",
    "AccountRisk",
    "AccountRow",
    "Backtest",
    "ChurnConfig",
    "ChurnModelResult",
    "Driver",
    "HealthConfig",
    "HealthReport",
    "LinkedFeedback",
    "RateRatio",
    "ReleaseCustomerImpact",
    "SurveyScore",
    "SurveyTrend",
    "account_detail",
    "assess_release_customers",
    "build_account_book",
    "compute_health",
    "configs_from_workspace",
    "fit_churn_model",
    "load_churn_config",
    "load_health_config",
    "rate_ratio",
    "release_feedback",
    "release_terms",
    "releases_for_account",
    "score_accounts",
    "summarize_survey",
    "survey_trend",
]

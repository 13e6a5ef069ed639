//! PagerDuty adapter of the alerts port: Events API v2 over reqwest.

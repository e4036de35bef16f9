"""Business rules, shared by pages, API and jobs. Services flush, never commit."""

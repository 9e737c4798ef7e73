"""Who may reach the server and how: TLS, API keys with roles, and per-key rate limits."""

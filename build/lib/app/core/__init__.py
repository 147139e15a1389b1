"""Web and process plumbing under every router: database engine, errors as problem+json,
logs, metrics, OpenAPI, body and rate limits, middleware, migrations, the docs and ops pages."""

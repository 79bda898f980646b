"""HTTP adapters: the app factory, the native REST API and (later) the COC-compatible API."""

"""The budget dashboard: a view model built from the ledger (``model``) and its HTML page (``html``)."""

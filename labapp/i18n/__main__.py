"""python -m labapp.i18n extract|update|check (labapp/i18n/catalogs.py)."""
from .catalogs import main

raise SystemExit(main())

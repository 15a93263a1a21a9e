"""The PostgreSQL read-model views: the SQL behind the ports declared in ``projections``."""

"""The PostgreSQL event engine: monthly partitions, COPY inserts, server-side cursors."""

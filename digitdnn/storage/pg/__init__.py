"""The class store's PostgreSQL backend (digitdnn/storage/class_store.py): one database for every page replica."""

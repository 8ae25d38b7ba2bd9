"""Running the page as a cluster on one machine: PostgreSQL, page replicas and HAProxy (`digitdnn cluster`)."""

"""Server-side print queue: jobs table, one worker per printer, status, progress page."""

SELECT current_user, r.rolreplication OR r.rolsuper, current_setting('wal_level')
  FROM pg_roles r WHERE r.rolname = current_user

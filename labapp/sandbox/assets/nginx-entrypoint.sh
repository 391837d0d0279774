#!/bin/sh
# labapp's stand-in for nginx: busybox httpd on port 80 serving a page that names the task.
# PID 1 traps SIGTERM and exits at once, so rolling updates do not wait out the grace period.
trap 'exit 0' TERM INT
host=$(hostname)
cat > /usr/share/nginx/html/index.html <<HTML
<!DOCTYPE html>
<html><head><title>Welcome to nginx!</title></head>
<body><h1>Welcome to nginx!</h1>
<p>Served by ${host} (labapp's stand-in for nginx: busybox httpd).</p></body></html>
HTML
httpd -f -p 80 -h /usr/share/nginx/html &
wait

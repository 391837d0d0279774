"""The web app: pages, and later the API and Socket.IO events."""

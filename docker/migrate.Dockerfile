# migrate.Dockerfile: a one-shot job that applies schema/migrations to $DATABASE_URL with
# schema/migrate.sh (each migration once, in order, under an advisory lock), then exits 0.
#
#   docker build -f docker/migrate.Dockerfile -t chat-migrate .        # context: repo root
#   docker run --rm -e DATABASE_URL=postgresql://... chat-migrate [up|status]
#
# Based on the PostgreSQL image docker-compose.yml runs anyway (one pull), for its psql client,
# bash and coreutils; the server in it is not started.
FROM postgres:16
COPY schema/ /opt/chat/schema/
USER postgres
ENTRYPOINT ["bash", "/opt/chat/schema/migrate.sh"]
CMD ["up"]

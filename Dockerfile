# The image the manifests of lab.to_kubernetes() run: one FinPay Lab pod over HTTP.
#   docker build -t finpay-lab:0.1.0 .
#   docker run --rm -p 8080:8080 -e FINPAY_SECRET=change-me finpay-lab:0.1.0
# An app exported from a notebook (finpay_lab.serve.export) loads only on the Python version
# that wrote it: build with the notebook's, e.g. --build-arg PYTHON=3.11 (Binder runs 3.12).
ARG PYTHON=3.12
FROM python:${PYTHON}-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/finpay
COPY pyproject.toml README.md ./
COPY finpay_lab ./finpay_lab
RUN pip install . \
    && groupadd --system --gid 10001 finpay \
    && useradd --system --uid 10001 --gid finpay --no-create-home finpay

# An app exported from a notebook (myapp.py): COPY it into this working directory (python -m
# imports from here), and the Deployment runs it with --app myapp:app.
USER 10001:10001

EXPOSE 8080
CMD ["python", "-m", "finpay_lab.serve", "--app", "finpay_lab.finpay:app", "--port", "8080"]

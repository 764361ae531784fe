# liberator — developer and deployment entry points. `make` or `make help` lists targets.
#
# Add a target by writing `name: ## one-line description`; help picks it up.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

# --- Lambdas -----------------------------------------------------------------
LAMBDA_PACKAGES ?= export-trigger export-copier
LAMBDA_DIR      := target/lambda

# --- restore image / ECR -------------------------------------------------------
AWS_REGION       ?= eu-west-2
AWS_ACCOUNT_ID   ?=
ECR_REPO         ?= liberator-restore
IMAGE_TAG        ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
RESTORE_PLATFORM ?= linux/amd64
RESTORE_DOCKERFILE := deploy/restore/Dockerfile

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "; printf "Usage: make <target> [VAR=value ...]\n\nTargets:\n"} \
	  /^[a-zA-Z0-9_.-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@printf '\nDeployment variables: AWS_REGION=%s AWS_ACCOUNT_ID=%s ECR_REPO=%s IMAGE_TAG=%s RESTORE_PLATFORM=%s\n' \
	  '$(AWS_REGION)' '$(or $(AWS_ACCOUNT_ID),<from aws sts>)' '$(ECR_REPO)' '$(IMAGE_TAG)' '$(RESTORE_PLATFORM)'

.PHONY: lambdas
lambdas: ## Build the Lambda zips (target/lambda/<pkg>/bootstrap.zip, arm64) with cargo lambda
	cargo lambda build --release --arm64 --output-format zip --lambda-dir $(LAMBDA_DIR) $(addprefix -p ,$(LAMBDA_PACKAGES))
	@for p in $(LAMBDA_PACKAGES); do ls -l "$(LAMBDA_DIR)/$$p/bootstrap.zip"; done

.PHONY: restore-image
restore-image: ## Build the restore image from deploy/restore/Dockerfile (project root as context)
	docker build --platform '$(RESTORE_PLATFORM)' -f '$(RESTORE_DOCKERFILE)' -t '$(ECR_REPO):$(IMAGE_TAG)' .

.PHONY: push-ecr
push-ecr: restore-image ## Build the restore image and push it to ECR (ECR_REPO, AWS_REGION, AWS_ACCOUNT_ID, IMAGE_TAG)
	account='$(AWS_ACCOUNT_ID)'; \
	if [[ -z "$$account" ]]; then \
	  account=$$(aws sts get-caller-identity --query Account --output text); \
	  echo "AWS_ACCOUNT_ID not set: using the caller's account $$account"; \
	fi; \
	registry="$$account.dkr.ecr.$(AWS_REGION).amazonaws.com"; \
	image="$$registry/$(ECR_REPO):$(IMAGE_TAG)"; \
	aws ecr get-login-password --region '$(AWS_REGION)' \
	  | docker login --username AWS --password-stdin "$$registry"; \
	docker tag '$(ECR_REPO):$(IMAGE_TAG)' "$$image"; \
	docker push "$$image"; \
	echo "pushed $$image"; \
	echo 'set restore_image_tag = "$(IMAGE_TAG)" in deploy/terraform/terraform.tfvars'

.PHONY: validate-deploy
validate-deploy: ## Offline checks of deploy/terraform (python-hcl2 parse, wildcard grep, checkov)
	bash deploy/validate.sh

# --- local runs ----------------------------------------------------------------
DUMP ?= ../shared/data/sakila.zip

.PHONY: e2e
e2e: ## Run the whole pipeline locally on DUMP (a zipped MySQL dump) and print the per-table report
	scripts/e2e "$(DUMP)"

.PHONY: demo
demo: ## Land a sample RDS export into ./liberator-demo (no server or AWS account)
	cargo run --bin engine -- demo

.PHONY: test
test: ## The whole test suite (installs and starts its servers, builds once, prints step times)
	scripts/test

.PHONY: boundaries
boundaries: ## Check the crate boundaries CI enforces (no mysql_async in the copier, no CLI crates in the engine)
	.ci/crate-boundaries

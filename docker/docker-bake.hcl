# Builds every image of docker/Dockerfile in one run, so the workspace is
# compiled once. From the repository's root:
#
#   docker buildx bake -f docker/docker-bake.hcl
#
# Every variable can be set from the environment, e.g. the local stand-ins of
# docker/standins.sh: `env $(bash docker/standins.sh) docker buildx bake ...`.

variable "HUB" {
  default = "ghcr.io/bookinfo-rs"
}
variable "TAG" {
  default = "0.1.0"
}
variable "RUST_IMAGE" {
  default = "docker.io/library/rust:1.95-slim-bookworm"
}
variable "DEBIAN_IMAGE" {
  default = "docker.io/library/debian:bookworm-slim"
}
variable "REVISION" {
  default = "unknown"
}

# The images of k8s/ (one per service, configured by environment), the router,
# and the drop-ins that bake in the environment of each upstream image.
group "default" {
  targets = ["images"]
}

target "images" {
  name       = image
  matrix = {
    image = [
      "productpage", "details", "reviews", "ratings", "bookinfo",
      "productpage-v1", "productpage-v-flooding",
      "details-v1", "details-v2",
      "reviews-v1", "reviews-v2", "reviews-v3",
      "ratings-v1", "ratings-v2",
      "ratings-v-faulty", "ratings-v-delayed", "ratings-v-unavailable", "ratings-v-unhealthy",
    ]
  }
  context    = "."
  dockerfile = "docker/Dockerfile"
  target     = image
  tags       = ["${HUB}/${image}:${TAG}"]
  args = {
    RUST_IMAGE   = RUST_IMAGE
    DEBIAN_IMAGE = DEBIAN_IMAGE
    VERSION      = TAG
    REVISION     = REVISION
  }
}

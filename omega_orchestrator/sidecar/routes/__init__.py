"""The sidecar's APIRouter modules."""

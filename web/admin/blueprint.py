"""The /admin blueprint, shared by the modules that add its pages."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

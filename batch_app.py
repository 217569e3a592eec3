"""Entry script of the Functions app: assembles the blueprints into one DFApp.

It is not named function_app.py because the `function_app/` package would shadow it; the host finds it
through the PYTHON_SCRIPT_FILE_NAME app setting.
"""
import azure.durable_functions as df
import azure.functions as func

from function_app.endpoints_api import bp as endpoints_bp
from function_app.event_triggers import bp as event_triggers_bp
from function_app.health import bp as health_bp
from function_app.jobs_api import bp as jobs_bp
from function_app.openapi_api import bp as openapi_bp
from function_app.schedules_api import bp as schedules_bp
from function_app.studio_site import bp as studio_bp
from function_app.workspace_api import bp as workspace_bp
from orchestrations.environment_builds import bp as environment_builds_bp
from orchestrations.scoring_jobs import bp as scoring_jobs_bp

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (health_bp, workspace_bp, endpoints_bp, jobs_bp, schedules_bp, openapi_bp, studio_bp, scoring_jobs_bp,
                  environment_builds_bp, event_triggers_bp):
    app.register_functions(blueprint)

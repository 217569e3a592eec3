"""Entry script of the Functions app: assembles the blueprints into one DFApp.

It is not named function_app.py because the `function_app/` package would shadow it; the host finds it
through the PYTHON_SCRIPT_FILE_NAME app setting.
"""
import azure.durable_functions as df
import azure.functions as func

from function_app.health import bp as health_bp
from orchestrations.fan_out import bp as fan_out_bp

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health_bp)
app.register_functions(fan_out_bp)

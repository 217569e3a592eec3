"""The workspace core: resources (models, datastores, data assets, batch endpoints, deployments), their
validation and their records in Table and Blob storage. Plain Python: no Azure Functions imports."""

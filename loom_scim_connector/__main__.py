from loom_scim_connector.cli import main

main()

from netc.cli.app import main

main()

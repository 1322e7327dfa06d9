// The broker lands here.
